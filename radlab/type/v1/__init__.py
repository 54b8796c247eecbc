"""Generated contract code for radlab.type.v1 (make protos); never edit by hand."""
