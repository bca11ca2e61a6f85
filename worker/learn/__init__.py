"""The improvement loop (issue 10): outcomes, benchmark scoring and scorecards, comparisons, variant
choice, dataset export, classifier v2 (DESIGN.md section 4). Each part is its own module."""
