"""The base class of errors caused by user input (bad config, label file, audio, name).

The command line prints these as one clear message without a traceback.
"""


class UserError(Exception):
    """An error the user can fix; its message names the file or key and the problem."""
