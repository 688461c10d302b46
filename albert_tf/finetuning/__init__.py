"""Fine-tuning ALBERT on GLUE, SQuAD and RACE: task data, features, metrics and the training loop."""
