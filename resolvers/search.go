package resolvers

import (
	"context"

	"github.com/tutti-gw/tutti/gqlerr"
	"github.com/tutti-gw/tutti/graph/model"
	"github.com/tutti-gw/tutti/loaders"
	"github.com/tutti-gw/tutti/upstream/catalog"
)

// catalogMaxLimit is the most products one catalog search page holds.
const catalogMaxLimit = 100

// searchProducts serves Query.products over the catalog's cursor paging.
// An edge's cursor names the catalog page request it came from and its
// offset there; `after` resumes right behind that edge, reading one more
// catalog page when the first one runs out before `first` products.
func (r *Resolver) searchProducts(ctx context.Context, search *string, first *int, after *string) (*model.ProductConnection, error) {
	n, err := productsFirst(intOr(first, defaultProductsFirst))
	if err != nil {
		return nil, err
	}
	q := ""
	if search != nil {
		q = *search
	}
	start := position{Search: q, Offset: -1}
	if after != nil {
		if start, err = r.Cursors.decode(*after, q); err != nil {
			return nil, gqlerr.New(gqlerr.BadUserInput, "after is not a cursor of this search")
		}
	}

	// page is the catalog answer being read, from the catalog cursor at.
	type page struct {
		at    string
		items []*catalog.Product
		next  *string
	}
	var pages []page
	skip := start.Offset + 1
	at := start.Upstream
	if start.Next != "" {
		// The edge ended its catalog page: the next page starts right after.
		skip, at = 0, start.Next
	}
	want := skip + n
	for {
		limit := min(want, catalogMaxLimit)
		done := loaders.From(ctx).Traced(loaders.SearchProducts, 1)
		pg, err := r.Catalog.Search(ctx, q, limit, at)
		done(err != nil)
		if err != nil {
			return nil, err
		}
		pages = append(pages, page{at: at, items: pg.Items, next: pg.Next})
		want -= len(pg.Items)
		if want <= 0 || pg.Next == nil || len(pg.Items) == 0 {
			break
		}
		at = *pg.Next
	}

	conn := &model.ProductConnection{PageInfo: &model.PageInfo{}}
	var recs []*catalog.Product
	more := false
	for pi, pg := range pages {
		for i, it := range pg.items {
			if pi == 0 && i < skip {
				continue
			}
			if len(recs) == n {
				more = true
				break
			}
			p, err := mapProduct(it)
			if err != nil {
				return nil, err
			}
			recs = append(recs, it)
			pos := position{Search: q, Upstream: pg.at, Offset: i}
			if i == len(pg.items)-1 && pg.next != nil {
				pos.Next = *pg.next
			}
			conn.Edges = append(conn.Edges, &model.ProductEdge{Cursor: r.Cursors.encode(pos), Node: p})
		}
	}
	if last := pages[len(pages)-1]; !more && last.next != nil {
		more = true
	}
	conn.PageInfo.HasNextPage = more
	if k := len(conn.Edges); k > 0 {
		conn.PageInfo.EndCursor = &conn.Edges[k-1].Cursor
	}
	if conn.Edges == nil {
		conn.Edges = []*model.ProductEdge{}
	}
	r.Planner.Below(ctx, &catalog.Page{Items: recs})
	return conn, nil
}
