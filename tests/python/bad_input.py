"""The bad-input tests' one check: each case (name, callable, exception type, a word the message
must contain) raises exactly that type with a one-line message naming the word."""


def check_cases(tc, cases):
    for name, call, exc, word in cases:
        with tc.subTest(case=name):
            with tc.assertRaises(exc) as cm:
                call()
            msg = str(cm.exception)
            tc.assertIs(type(cm.exception), exc, msg)
            if exc is not TypeError or "argument" not in word:  # pybind11's own signature errors span lines
                tc.assertNotIn("\n", msg)
            tc.assertIn(word, msg)
