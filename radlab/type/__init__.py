"""Generated contract code for radlab.type (make protos); never edit by hand."""
