package demo

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// ReferenceTime anchors the generated history: apart from the recent orders
// (see the package documentation), every order was placed in the two years
// before it, so the history does not move with the clock. Treat it as a
// constant.
var ReferenceTime = time.Date(2026, time.June, 1, 0, 0, 0, 0, time.UTC)

// Sizes of the generated data.
const (
	NumCustomers = 80
	NumProducts  = 300
)

// Ids with a known awkward shape. They hold for every seed; the seed only
// changes names, prices, quantities, times and the orders of other customers.
const (
	// CustomerMostOrders (Ada Lovelace, gold) has 30 orders, more than anyone
	// else, with every awkward order case (o-000001..o-000030, see below);
	// 8 of them placed in the last 30 days, one of those cancelled.
	CustomerMostOrders = "c-0001"
	// CustomerNoOrders has no orders.
	CustomerNoOrders = "c-0002"
	// CustomerAddressNull has "address": null.
	CustomerAddressNull = "c-0003"
	// CustomerAddressMissing has no "address" key at all.
	CustomerAddressMissing = "c-0004"
	// CustomerOffsetCreated has created "2022-07-14T15:20:00+02:00".
	CustomerOffsetCreated = "c-0005"
	// CustomerCreatedDayBefore has created "2021-03-05T00:30:00+02:00", whose
	// UTC date is 2021-03-04.
	CustomerCreatedDayBefore = "c-0006"
	// CustomerCreatedDayAfter has created "2020-12-31T22:00:00-05:00", whose
	// UTC date is 2021-01-01.
	CustomerCreatedDayAfter = "c-0007"

	// UnknownSKU is on order lines but not in the catalog (nor in stock).
	UnknownSKU = "SKU-9999"
	// OrderUnknownSKU has three lines, the last one for UnknownSKU.
	OrderUnknownSKU = "o-000003"
	// OrderDeclinedThenCaptured (delivered) has a declined payment followed
	// by a captured one; the captured one counts.
	OrderDeclinedThenCaptured = "o-000004"
	// OrderDelayed is shipped, its shipment in_transit with an eta long past.
	OrderDelayed = "o-000005"
	// OrderDeliveredNoShipment is delivered but shipping answers 404.
	OrderDeliveredNoShipment = "o-000006"
	// OrderReturned is delivered, its shipment returned, its payment refunded.
	OrderReturned = "o-000007"
	// OrderLabelPastETA is paid, its shipment label_created with shipped null
	// and an eta in the past (so delayed).
	OrderLabelPastETA = "o-000008"
	// OrderNoPayment is delivered with no payment at all.
	OrderNoPayment = "o-000009"
	// OrderInTransitNoETA is shipped, in_transit with eta null (not delayed).
	OrderInTransitNoETA = "o-000011"
	// OrderLabelNoDates is paid, label_created with shipped and eta null.
	OrderLabelNoDates = "o-000012"
	// OrderFiveLines has five lines, the most any order has.
	OrderFiveLines = "o-000013"
	// OrderCancelledRefunded (recent) is cancelled with a refunded payment.
	OrderCancelledRefunded = "o-000024"
	// OrderETAYesterday (recent) is in_transit with eta the day before the
	// clock's day at New: delayed.
	OrderETAYesterday = "o-000025"
	// OrderETAToday (recent) is in_transit with eta the clock's day at New:
	// not delayed on that day.
	OrderETAToday = "o-000026"
	// OrderPaidNoShipment (recent) is paid, with a declined then a captured
	// payment and no shipment.
	OrderPaidNoShipment = "o-000029"
	// OrderOnlyDeclined (recent) is pending with a single declined payment.
	OrderOnlyDeclined = "o-000030"

	// SKUPriceWhole has price "20".
	SKUPriceWhole = "SKU-0001"
	// SKUPriceOneDecimal has price "20.5" and description null.
	SKUPriceOneDecimal = "SKU-0002"
	// SKUPriceTwoDecimals has price "20.50" and no "tags" key.
	SKUPriceTwoDecimals = "SKU-0003"
	// SKUTagsEmpty has price "19.99" and "tags": [].
	SKUTagsEmpty = "SKU-0004"
	// SKUNotStocked is in the catalog but absent from stock.
	SKUNotStocked = "SKU-0005"
	// SKUOutOfStock has 0 units.
	SKUOutOfStock = "SKU-0006"
	// SKULowStock has 2 units.
	SKULowStock = "SKU-0007"
	// SKUEngine is the spec's example: "Brass Difference Engine",
	// description null, "19.99", tags ["brass", "engines"].
	SKUEngine = "SKU-0042"
)

// etaRule says how a generated shipment's eta is set.
type etaRule int

const (
	etaNone        etaRule = iota // eta null
	etaAfterPlaced                // placed date + days
	etaFromToday                  // the clock's day at New + days
)

type shipPlan struct {
	state     string // "" means no shipment
	noShipped bool   // shipped null
	eta       etaRule
	etaDays   int
}

type payPlan int

const (
	payNone payPlan = iota
	payCaptured
	payRefunded
	payDeclinedCaptured
	payDeclinedOnly
)

type orderPlan struct {
	status     string
	ship       shipPlan
	pay        payPlan
	unknownSKU bool
	lines      int // 0: random 1..5
	daysAgo    int // recent orders: days before the clock's day
}

var (
	shipDelivered = shipPlan{state: ShipmentDelivered, eta: etaAfterPlaced, etaDays: 4}
	shipNone      = shipPlan{}
)

// adaHistory are the plans of c-0001's 22 older orders, o-000001..o-000022.
var adaHistory = []orderPlan{
	{status: StatusDelivered, ship: shipDelivered, pay: payCaptured, lines: 1},
	{status: StatusCancelled, ship: shipNone, pay: payRefunded},
	{status: StatusDelivered, ship: shipDelivered, pay: payCaptured, unknownSKU: true, lines: 3},
	{status: StatusDelivered, ship: shipDelivered, pay: payDeclinedCaptured},
	{status: StatusShipped, ship: shipPlan{state: ShipmentInTransit, eta: etaAfterPlaced, etaDays: 5}, pay: payCaptured},
	{status: StatusDelivered, ship: shipNone, pay: payCaptured},
	{status: StatusDelivered, ship: shipPlan{state: ShipmentReturned, eta: etaAfterPlaced, etaDays: 4}, pay: payRefunded},
	{status: StatusPaid, ship: shipPlan{state: ShipmentLabelCreated, noShipped: true, eta: etaAfterPlaced, etaDays: 6}, pay: payCaptured},
	{status: StatusDelivered, ship: shipDelivered, pay: payNone},
	{status: StatusCancelled, ship: shipNone, pay: payNone},
	{status: StatusShipped, ship: shipPlan{state: ShipmentInTransit, eta: etaNone}, pay: payCaptured},
	{status: StatusPaid, ship: shipPlan{state: ShipmentLabelCreated, noShipped: true, eta: etaNone}, pay: payCaptured},
	{status: StatusDelivered, ship: shipDelivered, pay: payCaptured, lines: 5},
	{status: StatusPending, ship: shipNone, pay: payNone},
	{status: StatusDelivered, ship: shipDelivered, pay: payCaptured},
	{status: StatusDelivered, ship: shipDelivered, pay: payCaptured},
	{status: StatusDelivered, ship: shipDelivered, pay: payCaptured},
	{status: StatusDelivered, ship: shipDelivered, pay: payCaptured},
	{status: StatusDelivered, ship: shipDelivered, pay: payCaptured},
	{status: StatusDelivered, ship: shipDelivered, pay: payCaptured},
	{status: StatusDelivered, ship: shipDelivered, pay: payCaptured},
	{status: StatusDelivered, ship: shipDelivered, pay: payCaptured},
}

// adaRecent are the plans of c-0001's 8 recent orders, o-000023..o-000030.
var adaRecent = []orderPlan{
	{daysAgo: 28, status: StatusDelivered, ship: shipPlan{state: ShipmentDelivered, eta: etaAfterPlaced, etaDays: 3}, pay: payCaptured},
	{daysAgo: 20, status: StatusCancelled, ship: shipNone, pay: payRefunded},
	{daysAgo: 13, status: StatusShipped, ship: shipPlan{state: ShipmentInTransit, eta: etaFromToday, etaDays: -1}, pay: payCaptured},
	{daysAgo: 9, status: StatusShipped, ship: shipPlan{state: ShipmentInTransit, eta: etaFromToday, etaDays: 0}, pay: payCaptured},
	{daysAgo: 6, status: StatusShipped, ship: shipPlan{state: ShipmentInTransit, eta: etaFromToday, etaDays: 3}, pay: payCaptured},
	{daysAgo: 3, status: StatusPaid, ship: shipPlan{state: ShipmentLabelCreated, noShipped: true, eta: etaFromToday, etaDays: 5}, pay: payCaptured},
	{daysAgo: 1, status: StatusPaid, ship: shipNone, pay: payDeclinedCaptured},
	{daysAgo: 0, status: StatusPending, ship: shipNone, pay: payDeclinedOnly},
}

var (
	firstNames = []string{"Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Dennis", "Frances",
		"John", "Radia", "Ken", "Sophie", "Tim", "Hedy", "Claude", "Katherine", "Niklaus", "Adele",
		"Linus", "Shafi", "Leslie", "Joan", "Guido", "Anita", "Bjarne", "Karen", "Rob", "Mary", "Yukihiro", "Ida"}
	lastNames = []string{"Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Ritchie", "Allen",
		"Backus", "Perlman", "Thompson", "Wilson", "Berners-Lee", "Lamarr", "Shannon", "Johnson", "Wirth",
		"Goldberg", "Torvalds", "Goldwasser", "Lamport", "Clarke", "van Rossum", "Borg", "Stroustrup",
		"Spärck Jones", "Pike", "Keller", "Matsumoto", "Rhodes"}
	streets = []string{"Analytical Row", "Babbage Street", "Lambda Lane", "Turing Way", "Kernel Court",
		"Compiler Close", "Register Road", "Cache Crescent", "Pointer Place", "Stack Square"}
	places = []struct{ city, postcode, country string }{
		{"London", "N1 9GU", "GB"}, {"Manchester", "M1 1AE", "GB"}, {"Berlin", "10115", "DE"},
		{"München", "80331", "DE"}, {"Paris", "75002", "FR"}, {"Lyon", "69001", "FR"},
		{"Amsterdam", "1012 JS", "NL"}, {"Dublin", "D02 X285", "IE"}, {"Madrid", "28013", "ES"},
		{"Wien", "1010", "AT"},
	}
	offsets = []string{"Z", "Z", "Z", "Z", "+02:00", "+01:00", "-05:00", "+05:30", "-08:00", "+09:00"}

	adjectives = []string{"Small", "Large", "Compact", "Deluxe", "Classic", "Modern", "Rustic", "Polished",
		"Folding", "Portable", "Heavy", "Silent", "Precision", "Antique", "Pocket"}
	materials = []string{"Brass", "Copper", "Oak", "Walnut", "Steel", "Linen", "Wool", "Ceramic", "Glass",
		"Leather", "Bamboo", "Marble"}
	nouns = []struct{ noun, category string }{
		{"Kettle", "kitchen"}, {"Teapot", "kitchen"}, {"Lamp", "lighting"}, {"Lantern", "lighting"},
		{"Clock", "timepieces"}, {"Compass", "instruments"}, {"Telescope", "instruments"},
		{"Sextant", "instruments"}, {"Barometer", "instruments"}, {"Notebook", "stationery"},
		{"Typewriter", "office"}, {"Chair", "furniture"}, {"Satchel", "bags"}, {"Gear Set", "engines"},
		{"Engine", "engines"}, {"Loom", "textiles"}, {"Abacus", "office"},
	}
	extraTags = []string{"vintage", "gift", "handmade", "sale", "new", "bestseller", "eco"}
	carriers  = []string{"DHL", "UPS", "DPD", "GLS", "PostNL"}
)

// generate builds the initial data from seed. now is the clock's time at
// New: recent orders and some etas are placed relative to its UTC day.
func generate(seed int64, now time.Time) *Dataset {
	r := rand.New(rand.NewPCG(uint64(seed), 0x7475747469))
	today := now.UTC().Truncate(24 * time.Hour)
	ds := &Dataset{
		Stock:     map[string]int{},
		Shipments: map[string]Shipment{},
	}
	ds.Products = genProducts(r, ds.Stock)
	ds.Customers = genCustomers(r)
	prices := make(map[string]int64, len(ds.Products))
	for _, p := range ds.Products {
		prices[p.SKU], _ = parseAmount(p.Price.Amount)
	}

	type madePayment struct {
		at  int64
		seq int
		p   Payment
	}
	var pays []madePayment
	for _, c := range ds.Customers {
		var hist, recent []orderPlan
		switch c.ID {
		case CustomerMostOrders:
			hist, recent = adaHistory, adaRecent
		case CustomerNoOrders:
		default:
			n := r.IntN(30) // fewer than CustomerMostOrders
			k := 0
			if r.IntN(2) == 0 {
				k = min(n, 1+r.IntN(3))
			}
			for range n - k {
				hist = append(hist, randomPlan(r, false))
			}
			for range k {
				p := randomPlan(r, true)
				p.daysAgo = r.IntN(29)
				recent = append(recent, p)
			}
			slices.SortStableFunc(recent, func(a, b orderPlan) int { return cmp.Compare(b.daysAgo, a.daysAgo) })
		}
		// Older orders spread over the two years before ReferenceTime, recent
		// ones some hours before the start of the clock's day minus daysAgo:
		// always in the past, and within the last 30 days.
		hTimes := make([]int64, len(hist))
		for i := range hTimes {
			hTimes[i] = ReferenceTime.Unix() - 3600 - r.Int64N(730*86400)
		}
		slices.Sort(hTimes)
		plans := append(slices.Clone(hist), recent...)
		times := hTimes
		for _, p := range recent {
			times = append(times, today.Unix()-int64(p.daysAgo)*86400-3600-r.Int64N(20*3600))
		}
		for i, plan := range plans {
			o := Order{
				ID:         fmt.Sprintf("o-%06d", len(ds.Orders)+1),
				CustomerID: c.ID,
				Status:     plan.status,
				PlacedAt:   times[i],
				Currency:   "EUR",
				Lines:      genLines(r, plan, prices),
			}
			ds.Orders = append(ds.Orders, o)
			placed := time.Unix(o.PlacedAt, 0).UTC()
			if s, ok := genShipment(r, plan.ship, placed, today); ok {
				s.OrderID = o.ID
				ds.Shipments[o.ID] = s
			}
			amount := Amount{Value: o.TotalCents(), Currency: "eur"}
			pay := func(status string, after int64) {
				pays = append(pays, madePayment{at: o.PlacedAt + after, seq: len(pays),
					p: Payment{OrderID: o.ID, Status: status, Amount: amount, Method: "card"}})
			}
			switch plan.pay {
			case payCaptured:
				pay(PaymentCaptured, 60)
			case payRefunded:
				pay(PaymentRefunded, 60)
			case payDeclinedCaptured:
				pay(PaymentDeclined, 60)
				pay(PaymentCaptured, 240)
			case payDeclinedOnly:
				pay(PaymentDeclined, 60)
			}
		}
	}
	slices.SortFunc(pays, func(a, b madePayment) int { // (at, seq) is unique
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq))
	})
	for i, mp := range pays {
		mp.p.ID = paymentID(i + 1)
		ds.Payments = append(ds.Payments, mp.p)
	}
	return ds
}

func paymentID(n int) string { return fmt.Sprintf("pay_%05x", 0x8f2c0+n) }

func randomPlan(r *rand.Rand, recent bool) orderPlan {
	var p orderPlan
	x := r.IntN(100)
	if recent {
		switch {
		case x < 15:
			p.status = StatusPending
		case x < 40:
			p.status = StatusPaid
		case x < 70:
			p.status = StatusShipped
		case x < 90:
			p.status = StatusDelivered
		default:
			p.status = StatusCancelled
		}
	} else {
		switch {
		case x < 70:
			p.status = StatusDelivered
		case x < 84:
			p.status = StatusCancelled
		case x < 90:
			p.status = StatusShipped
		case x < 95:
			p.status = StatusPaid
		default:
			p.status = StatusPending
		}
	}
	y := r.IntN(100)
	switch p.status {
	case StatusPending:
		if y < 15 {
			p.pay = payDeclinedOnly
		}
	case StatusCancelled:
		switch {
		case y < 50:
			p.pay = payRefunded
		case y < 60:
			p.pay = payDeclinedOnly
		}
	default:
		switch {
		case y < 88:
			p.pay = payCaptured
		case y < 95:
			p.pay = payDeclinedCaptured
		case y < 97:
			p.pay = payNone
		default:
			p.pay = payRefunded
		}
	}
	z := r.IntN(100)
	switch p.status {
	case StatusDelivered:
		switch {
		case z < 90:
			p.ship = shipPlan{state: ShipmentDelivered, eta: etaAfterPlaced, etaDays: 2 + r.IntN(5)}
		case z < 95:
			p.ship = shipPlan{state: ShipmentReturned, eta: etaAfterPlaced, etaDays: 2 + r.IntN(5)}
			if p.pay != payNone {
				p.pay = payRefunded
			}
		}
	case StatusShipped:
		switch {
		case z < 80:
			p.ship = shipPlan{state: ShipmentInTransit, eta: etaAfterPlaced, etaDays: 3 + r.IntN(8)}
		case z < 90:
			p.ship = shipPlan{state: ShipmentInTransit, eta: etaNone}
		}
	case StatusPaid:
		switch {
		case z < 50:
			p.ship = shipPlan{state: ShipmentLabelCreated, noShipped: true, eta: etaAfterPlaced, etaDays: 3 + r.IntN(8)}
		case z < 70:
			p.ship = shipPlan{state: ShipmentLabelCreated, noShipped: true, eta: etaNone}
		}
	}
	return p
}

func genLines(r *rand.Rand, plan orderPlan, prices map[string]int64) []OrderLine {
	n := plan.lines
	if n == 0 {
		n = 1 + r.IntN(5)
	}
	lines := make([]OrderLine, 0, n)
	seen := map[string]bool{}
	for len(lines) < n {
		sku := productSKU(1 + r.IntN(NumProducts))
		if seen[sku] {
			continue
		}
		seen[sku] = true
		price := prices[sku]
		if r.IntN(10) == 0 { // bought at an older price
			price = max(99, price+int64(r.IntN(1001))-500)
		}
		lines = append(lines, OrderLine{SKU: sku, Qty: 1 + r.IntN(3), UnitPriceCents: price})
	}
	if plan.unknownSKU {
		lines[len(lines)-1] = OrderLine{SKU: UnknownSKU, Qty: 1, UnitPriceCents: 4999}
	}
	return lines
}

func genShipment(r *rand.Rand, plan shipPlan, placed, today time.Time) (Shipment, bool) {
	if plan.state == "" {
		return Shipment{}, false
	}
	s := Shipment{
		TrackingNo: trackingNo(r),
		Carrier:    carriers[r.IntN(len(carriers))],
		State:      plan.state,
	}
	day := placed.Truncate(24 * time.Hour)
	if !plan.noShipped {
		s.Shipped = ptr(ddmmyyyy(day.AddDate(0, 0, 1)))
	}
	switch plan.eta {
	case etaAfterPlaced:
		s.ETA = ptr(ddmmyyyy(day.AddDate(0, 0, plan.etaDays)))
	case etaFromToday:
		s.ETA = ptr(ddmmyyyy(today.AddDate(0, 0, plan.etaDays)))
	}
	return s, true
}

func trackingNo(r *rand.Rand) string {
	const digits = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
	var b strings.Builder
	b.WriteString("1Z")
	for range 16 {
		b.WriteByte(digits[r.IntN(len(digits))])
	}
	return b.String()
}

func ddmmyyyy(t time.Time) string { return t.UTC().Format("02/01/2006") }

func ptr[T any](v T) *T { return &v }

func productSKU(n int) string { return fmt.Sprintf("SKU-%04d", n) }

func genProducts(r *rand.Rand, stock map[string]int) []Product {
	products := make([]Product, 0, NumProducts)
	for i := 1; i <= NumProducts; i++ {
		adj := adjectives[r.IntN(len(adjectives))]
		mat := materials[r.IntN(len(materials))]
		nc := nouns[r.IntN(len(nouns))]
		p := Product{
			SKU:   productSKU(i),
			Title: fmt.Sprintf("%s %s %s", adj, mat, nc.noun),
			Price: Price{Currency: "EUR"},
		}
		if r.IntN(100) < 15 {
			p.Description = nil
		} else {
			p.Description = ptr(fmt.Sprintf("A %s %s made of %s.", strings.ToLower(adj),
				strings.ToLower(nc.noun), strings.ToLower(mat)))
		}
		switch t := r.IntN(100); {
		case t < 10: // no tags key
		case t < 15:
			p.Tags = []string{}
		default:
			p.Tags = []string{strings.ToLower(mat), nc.category}
			if r.IntN(2) == 0 {
				p.Tags = append(p.Tags, extraTags[r.IntN(len(extraTags))])
			}
		}
		cents := int64(99 + r.IntN(30000))
		if r.IntN(4) == 0 {
			cents = cents / 100 * 100 // whole euros
		} else if r.IntN(4) == 0 {
			cents = cents / 10 * 10 // one significant decimal
		}
		p.Price.Amount = formatAmount(cents, r.IntN(3))
		switch s := r.IntN(100); {
		case s < 6: // absent from stock
		case s < 16:
			stock[p.SKU] = 0
		default:
			stock[p.SKU] = 1 + r.IntN(200)
		}
		products = append(products, p)
	}
	fixed := func(sku, amount string, edit func(p *Product)) {
		p := &products[skuIndex(sku)]
		p.Price.Amount = amount
		if edit != nil {
			edit(p)
		}
	}
	fixed(SKUPriceWhole, "20", func(p *Product) { p.Tags = []string{"brass", "office"} })
	fixed(SKUPriceOneDecimal, "20.5", func(p *Product) { p.Description = nil })
	fixed(SKUPriceTwoDecimals, "20.50", func(p *Product) { p.Tags = nil })
	fixed(SKUTagsEmpty, "19.99", func(p *Product) { p.Tags = []string{} })
	fixed(SKUEngine, "19.99", func(p *Product) {
		p.Title = "Brass Difference Engine"
		p.Description = nil
		p.Tags = []string{"brass", "engines"}
	})
	for _, sku := range []string{SKUPriceWhole, SKUPriceOneDecimal, SKUPriceTwoDecimals, SKUTagsEmpty, SKUEngine} {
		stock[sku] = 500
	}
	delete(stock, SKUNotStocked)
	stock[SKUOutOfStock] = 0
	stock[SKULowStock] = 2
	return products
}

// skuIndex is the index of a generated sku in Products.
func skuIndex(sku string) int {
	var n int
	fmt.Sscanf(sku, "SKU-%d", &n)
	return n - 1
}

// formatAmount writes cents as a decimal string in one of the forms the
// catalog uses; style picks between equivalent forms ("20", "20.00", "20.0";
// "20.5", "20.50").
func formatAmount(cents int64, style int) string {
	whole, frac := cents/100, cents%100
	switch {
	case frac == 0:
		return fmt.Sprintf([...]string{"%d", "%d.00", "%d.0"}[style%3], whole)
	case frac%10 == 0 && style%2 == 0:
		return fmt.Sprintf("%d.%d", whole, frac/10)
	default:
		return fmt.Sprintf("%d.%02d", whole, frac)
	}
}

// parseAmount reads a catalog decimal string into cents.
func parseAmount(s string) (int64, error) {
	whole, frac, hasFrac := strings.Cut(s, ".")
	var w, f int64
	if _, err := fmt.Sscanf(whole, "%d", &w); err != nil {
		return 0, fmt.Errorf("parse amount %q: %w", s, err)
	}
	if hasFrac {
		if len(frac) == 0 || len(frac) > 2 {
			return 0, fmt.Errorf("parse amount %q: want up to two decimals", s)
		}
		if len(frac) == 1 {
			frac += "0"
		}
		if _, err := fmt.Sscanf(frac, "%d", &f); err != nil {
			return 0, fmt.Errorf("parse amount %q: %w", s, err)
		}
	}
	return w*100 + f, nil
}

func genCustomers(r *rand.Rand) []Customer {
	customers := make([]Customer, 0, NumCustomers)
	start := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= NumCustomers; i++ {
		first := firstNames[r.IntN(len(firstNames))]
		last := lastNames[r.IntN(len(lastNames))]
		c := Customer{
			ID:       fmt.Sprintf("c-%04d", i),
			FullName: first + " " + last,
			Email: fmt.Sprintf("%s.%s.%d@example.com", strings.ToLower(first),
				strings.ToLower(strings.NewReplacer(" ", "", "ä", "a").Replace(last)), i),
		}
		switch t := r.IntN(10); {
		case t < 2:
			c.Tier = "gold"
		case t < 5:
			c.Tier = "silver"
		default:
			c.Tier = "bronze"
		}
		created := start.Add(time.Duration(r.Int64N(5*365*86400)) * time.Second)
		c.Created = rfc3339In(created, offsets[r.IntN(len(offsets))])
		pl := places[r.IntN(len(places))]
		addr := &Address{
			Line1:    fmt.Sprintf("%d %s", 1+r.IntN(200), streets[r.IntN(len(streets))]),
			City:     pl.city,
			Postcode: pl.postcode,
			Country:  pl.country,
		}
		switch a := r.IntN(100); {
		case a < 6 && i > 2:
			c.Address = nil
		case a < 12 && i > 2:
			c.AddressMissing = true
		default:
			c.Address = addr
		}
		customers = append(customers, c)
	}
	customers[0] = Customer{ID: CustomerMostOrders, FullName: "Ada Lovelace", Email: "ada@example.com",
		Tier: "gold", Created: "2021-03-04T10:00:00Z",
		Address: &Address{Line1: "12 Analytical Row", City: "London", Postcode: "N1 9GU", Country: "GB"}}
	customers[1].Tier = "silver"
	customers[2].Address, customers[2].AddressMissing = nil, false
	customers[3].Address, customers[3].AddressMissing = nil, true
	customers[4].Created = "2022-07-14T15:20:00+02:00"
	customers[5].Created = "2021-03-05T00:30:00+02:00"
	customers[6].Created = "2020-12-31T22:00:00-05:00"
	for i := 4; i < 7; i++ {
		if customers[i].Address == nil {
			customers[i].Address = &Address{Line1: "1 Register Road", City: "Berlin", Postcode: "10115", Country: "DE"}
			customers[i].AddressMissing = false
		}
	}
	return customers
}

// rfc3339In formats t at the given offset ("Z" or "±hh:mm").
func rfc3339In(t time.Time, offset string) string {
	if offset == "Z" {
		return t.UTC().Format(time.RFC3339)
	}
	var h, m int
	fmt.Sscanf(offset[1:], "%d:%d", &h, &m)
	secs := h*3600 + m*60
	if offset[0] == '-' {
		secs = -secs
	}
	return t.In(time.FixedZone(offset, secs)).Format(time.RFC3339)
}
