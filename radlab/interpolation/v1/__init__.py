"""Generated contract code for radlab.interpolation.v1 (make protos); never edit by hand."""
