"""Generated contract code for radlab.anonymization (make protos); never edit by hand."""
