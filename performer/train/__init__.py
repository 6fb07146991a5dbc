"""Training the embedded default model: data, architecture, loss, export and the `performer train` loop."""
