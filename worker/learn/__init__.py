"""The improvement loop (DESIGN.md §4): outcomes, scorecards, comparisons, variant choice, export, classifier v2."""
