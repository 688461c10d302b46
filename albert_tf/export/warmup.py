"""`assets.extra/tf_serving_warmup_requests`: PredictionLog records TF Serving replays on load,
so the first real request does not pay for graph initialization."""

import tensorflow as tf


def input_names(signature):
    return [spec.name for spec in tf.nest.flatten(signature.structured_input_signature)]


def write_warmup_requests(path, signature, texts, batch_sizes=(1, 8)):
    """One Predict request per batch size on the raw-string signature `serving_default`."""
    try:
        from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
    except ImportError:
        raise ImportError("writing TF Serving warmup requests needs tensorflow-serving-api: "
                          "pip install 'albert_tf[export]'") from None

    names = input_names(signature)
    with tf.io.TFRecordWriter(path) as writer:
        for batch_size in batch_sizes:
            batch = [texts[i % len(texts)] for i in range(batch_size)]
            request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(signature_name="serving_default"))
            for name in names:
                request.inputs[name].CopyFrom(tf.make_tensor_proto(batch, dtype=tf.string))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
