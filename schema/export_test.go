package schema

// Apply exposes one migration's application to the test that converts a populated database.
var Apply = apply

// NamesBefore lists the migrations whose names sort before name, in order.
func NamesBefore(name string) []string {
	var out []string
	for _, n := range names() {
		if n < name {
			out = append(out, n)
		}
	}
	return out
}
