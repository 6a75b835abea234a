"""Django-free parts of the compliance engine: typed rule parameters, the rule
library's definitions, explanation rendering and pure checks on numbers."""
