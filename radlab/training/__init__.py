"""Generated contract code for radlab.training (make protos); never edit by hand."""
