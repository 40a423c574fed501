"""The adapter for the mock finance system (the ``mockerp`` web application): the only part
of paybot that knows its screens, locators and words. ``erp.kind: mockerp``."""
