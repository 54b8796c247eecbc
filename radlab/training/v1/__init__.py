"""Generated contract code for radlab.training.v1 (make protos); never edit by hand."""
