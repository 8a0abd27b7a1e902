"""Mode `trace`: the Model Pipeline Trace of a saved run, exactly as `pipetrace run` printed it.

For learners who read: the data flow, the training, one prediction, a quiz and the key
insights, in order. It is `pipetrace show`, reached from `pipetrace learn`: its content is the
Trace itself, which views/terminal.py draws (views/learn.py's `print_trace`).
"""
