from ..optimize import optimize
