// Package resolvers implements the GraphQL schema. Resolvers stay thin: they
// check who may see what, ask the request's loaders for upstream records and
// map them into models (mapping.go). Which call serves which field is
// declared in schema/ and executed by the planner.
package resolvers

//go:generate go tool gqlgen generate --config ../gqlgen.yml

// Resolver is the dependency-injection root.
type Resolver struct{}
