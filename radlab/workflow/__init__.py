"""Generated contract code for radlab.workflow (make protos); never edit by hand."""
