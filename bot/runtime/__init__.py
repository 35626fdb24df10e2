"""The runtime: receiver, queue, worker and scheduler. It routes envelopes to features and knows none."""
