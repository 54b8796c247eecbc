"""Generated contract code for radlab.annotation.v1 (make protos); never edit by hand."""
