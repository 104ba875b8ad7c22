package model

import "strconv"

// Money is an exact amount in minor units of a currency.
type Money struct {
	Cents    int
	Currency string
}

// Amount is Cents as a decimal string with exactly two places:
// 1999 → "19.99", -5 → "-0.05".
func (m Money) Amount() string {
	c := int64(m.Cents)
	sign := ""
	// Negate in uint64 so the most negative value does not overflow.
	u := uint64(c)
	if c < 0 {
		sign = "-"
		u = uint64(-(c + 1)) + 1
	}
	frac := u % 100
	s := sign + strconv.FormatUint(u/100, 10) + "."
	if frac < 10 {
		s += "0"
	}
	return s + strconv.FormatUint(frac, 10)
}
