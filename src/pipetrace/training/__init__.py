"""The training record: the network, the loop that fits it, and what each epoch showed."""
