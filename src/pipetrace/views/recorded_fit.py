"""What every view says of a trace made by `TraceCallback.to_trace`: the data stages before fit were not seen."""

STAGES_NOT_SEEN = ("Not recorded: this trace is a model.fit of yours recorded by pipetrace.TraceCallback, which saw its "
                   "epochs, not how the data was loaded, scaled, shaped and split before it.")
