"""toupy: resolution estimation for X-ray and electron imaging."""
