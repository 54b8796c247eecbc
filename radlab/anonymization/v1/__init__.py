"""Generated contract code for radlab.anonymization.v1 (make protos); never edit by hand."""
