"""Generated contract code for radlab.annotation (make protos); never edit by hand."""
