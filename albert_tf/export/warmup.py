"""`assets.extra/tf_serving_warmup_requests`: PredictionLog records TF Serving replays on load,
so the first real request does not pay for graph initialization."""

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2


def write_warmup_requests(path, requests):
    """One Predict request on `serving_default` per dict {input name: batch} in `requests`:
    raw strings for a text signature, int32 ids for the hub-format encoder."""
    with tf.io.TFRecordWriter(path) as writer:
        for inputs in requests:
            request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(signature_name="serving_default"))
            for name, value in inputs.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
