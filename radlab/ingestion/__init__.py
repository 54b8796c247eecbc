"""Generated contract code for radlab.ingestion (make protos); never edit by hand."""
