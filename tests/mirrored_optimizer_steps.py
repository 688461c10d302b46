"""Helper for test_lamb: optimizer steps under MirroredStrategy on two logical CPUs.

Run in its own process because logical devices can only be set up before TensorFlow starts.
Usage: python mirrored_optimizer_steps.py OPTIMIZER_NAME INITIAL_WEIGHTS_JSON STEPS_JSON, where
STEPS_JSON is a list of steps, each a list of one gradient per replica. Prints the final weights
as JSON.
"""

import json
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402  (after the device setup, which must precede any TensorFlow work)

from albert_tf.optimization import create_optimizer  # noqa: E402

optimizer_name, initial_weights, steps = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    weights = keras.Variable(np.array(initial_weights, "float32"), name="kernel")
    optimizer = create_optimizer(optimizer_name, 0.1, num_train_steps=10, num_warmup_steps=0)
    optimizer.build([weights])


@tf.function
def train_step(replica_gradients):
    def on_replica():
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        optimizer.apply([replica_gradients[replica]], [weights])
    strategy.run(on_replica)


for replica_gradients in steps:
    train_step(tf.constant(replica_gradients, tf.float32))
print(json.dumps(weights.numpy().tolist()))
