"""albert_tf: ALBERT for TensorFlow 2 / Keras 3, interchangeable with the original checkpoints."""

import setuptools

setuptools.setup(
    name="albert_tf",
    version="0.1.0",
    description="ALBERT (A Lite BERT) for TensorFlow 2 and Keras 3: pretraining, fine-tuning, serving.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=setuptools.find_packages(include=["albert_tf", "albert_tf.*"]),
    install_requires=[
        # tensorflow-text requires `tensorflow` itself; `tensorflow-cpu` beside it would
        # install a second TensorFlow into the same site-packages.
        "tensorflow==2.21.*",
        "tensorflow-text==2.21.*",
        "keras>=3.15,<4",
        # tf.summary needs it to write scalars; TensorFlow 2.21 no longer installs it.
        "tensorboard==2.21.*",
        # The SentencePiece inside tensorflow-text 2.21 breaks ties between equal-score
        # segmentations as 0.2.1 does (0.2.3 differs), so the Python and in-graph tokenizers agree.
        "sentencepiece==0.2.1",
        "absl-py>=2.1",
        "numpy>=1.26",
        # Hugging Face folders, read and written through its NumPy API (no PyTorch).
        "safetensors>=0.4.3,<1",
        # Every export writes TF Serving's warmup requests (PredictionLog protos).
        "tensorflow-serving-api==2.21.*",
    ],
    extras_require={
        # run_classifier.py --tfds_name; tensorflow-datasets 4.9 imports importlib_resources
        # without declaring it.
        "tfds": ["tensorflow-datasets==4.9.10", "importlib_resources>=6"],
        # Reads and writes keras-hub presets (keras-hub defines the format).
        "keras_hub": ["keras-hub==0.32.*"],
        # create_pretraining_data.py --runner: the data tool as a Beam pipeline. 2.77 installs beside
        # TensorFlow 2.21 (it needs protobuf < 7, which TensorFlow 2.21 accepts); on Dataflow,
        # apache-beam[gcp] of the same version.
        "beam": ["apache-beam==2.77.*"],
        # The LiteRT interpreter that runs run/export_litert.py's files (TensorFlow's own tf.lite.Interpreter
        # is deprecated and lacks the runtime's newer kernels).
        "litert": ["ai-edge-litert==2.3.*"],
        "test": ["pytest>=8", "pytest-xdist>=3.6", "hypothesis>=6.100", "tensorflow-datasets==4.9.10", "importlib_resources>=6",
                 "keras-hub==0.32.*", "apache-beam==2.77.*", "ai-edge-litert==2.3.*"],
        # Peers measured by run/benchmark.py; never needed at run time.
        "bench": ["keras-hub==0.32.*"],
    },
)
