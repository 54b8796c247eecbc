"""Generated contract code for radlab.ingestion.v1 (make protos); never edit by hand."""
