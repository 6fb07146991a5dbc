"""The live server: device I/O in a disposable child process, the model thread, recording."""
