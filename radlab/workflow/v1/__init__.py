"""Generated contract code for radlab.workflow.v1 (make protos); never edit by hand."""
