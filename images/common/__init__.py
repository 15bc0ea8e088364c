"""Code shared by the predictor and trainer images: one schema, one feature function, one storage layout."""
