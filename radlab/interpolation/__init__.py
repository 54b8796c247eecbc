"""Generated contract code for radlab.interpolation (make protos); never edit by hand."""
