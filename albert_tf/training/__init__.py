"""Training loops and the strategies they run on."""
