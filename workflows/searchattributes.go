package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// RegisterSearchAttributes adds trackflow's custom search attributes (SearchAttributeNames, all
// Keyword) to a namespace, leaving the ones it already has: `trackflow migrate` runs it once per
// release, and a second run changes nothing. A namespace just registered may not be known to the
// frontend for a moment, so NotFound is retried until ctx ends.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	for {
		err := addMissingSearchAttributes(ctx, c, namespace)
		var nf *serviceerror.NamespaceNotFound
		if err == nil || !errors.As(err, &nf) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func addMissingSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes of %s: %w", namespace, err)
	}
	add := map[string]enums.IndexedValueType{}
	for _, name := range SearchAttributeNames {
		t, ok := have.GetCustomAttributes()[name]
		switch {
		case !ok:
			add[name] = enums.INDEXED_VALUE_TYPE_KEYWORD
		case t != enums.INDEXED_VALUE_TYPE_KEYWORD:
			return fmt.Errorf("search attribute %s of %s is %s, trackflow needs Keyword", name, namespace, t)
		}
	}
	if len(add) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: add,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) { // another migrate added them meanwhile
		names := make([]string, 0, len(add))
		for n := range add {
			names = append(names, n)
		}
		slices.Sort(names)
		return fmt.Errorf("add search attributes %v to %s: %w", names, namespace, err)
	}
	return nil
}
