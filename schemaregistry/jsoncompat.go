package schemaregistry

import (
	"fmt"
	"slices"
	"sort"
)

// canRead applies Confluent's JSON Schema rules: a consumer holding reader can read data written
// with writer when every document valid under writer is valid under reader, checked keyword by
// keyword (types, properties with the content model, required, enum, bounds, items).
func (jsonFormat) canRead(reader, writer parsedSchema, readerName, writerName string) []compatIssue {
	c := jsonChecker{readerName: readerName, writerName: writerName}
	c.check(reader.(*jsonSchema).doc, writer.(*jsonSchema).doc, "#")
	return c.issues
}

type jsonChecker struct {
	readerName, writerName string
	issues                 []compatIssue
}

func (c *jsonChecker) add(errorType, path, description string) {
	c.issues = append(c.issues, compatIssue{errorType: errorType, description: description + " at path '" + path + "'", additionalInfo: path})
}

// object returns a schema as a keyword map; true and {} accept everything (nil), false nothing.
func object(s any) (map[string]any, bool) {
	switch v := s.(type) {
	case map[string]any:
		return v, true
	case bool:
		if v {
			return map[string]any{}, true
		}
		return nil, false
	}
	return map[string]any{}, true
}

// types returns the set of JSON types a schema allows (nil: any).
func types(m map[string]any) []string {
	switch t := m["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func (c *jsonChecker) check(readerDoc, writerDoc any, path string) {
	r, rOK := object(readerDoc)
	w, wOK := object(writerDoc)
	if !wOK {
		return // the writer writes nothing
	}
	if !rOK {
		c.add("TYPE_NARROWED", path, fmt.Sprintf("The %s schema accepts nothing (false) where the %s schema accepts data", c.readerName, c.writerName))
		return
	}
	rt, wt := types(r), types(w)
	if rt != nil {
		if wt == nil {
			c.add("TYPE_NARROWED", path, fmt.Sprintf("The %s schema restricts the type to %v where the %s schema allows any type", c.readerName, rt, c.writerName))
		}
		for _, t := range wt {
			if !slices.Contains(rt, t) && !(t == "integer" && slices.Contains(rt, "number")) {
				c.add("TYPE_CHANGED", path, fmt.Sprintf("The %s schema does not allow type '%s' that the %s schema allows", c.readerName, t, c.writerName))
			}
		}
	}
	c.checkEnum(r, w, path)
	c.checkBound(r, w, path, "minimum", "MINIMUM_INCREASED", true)
	c.checkBound(r, w, path, "exclusiveMinimum", "EXCLUSIVE_MINIMUM_INCREASED", true)
	c.checkBound(r, w, path, "minLength", "MIN_LENGTH_INCREASED", true)
	c.checkBound(r, w, path, "minItems", "MIN_ITEMS_INCREASED", true)
	c.checkBound(r, w, path, "minProperties", "MIN_PROPERTIES_INCREASED", true)
	c.checkBound(r, w, path, "maximum", "MAXIMUM_DECREASED", false)
	c.checkBound(r, w, path, "exclusiveMaximum", "EXCLUSIVE_MAXIMUM_DECREASED", false)
	c.checkBound(r, w, path, "maxLength", "MAX_LENGTH_DECREASED", false)
	c.checkBound(r, w, path, "maxItems", "MAX_ITEMS_DECREASED", false)
	c.checkBound(r, w, path, "maxProperties", "MAX_PROPERTIES_DECREASED", false)
	if rp, ok := r["pattern"]; ok && rp != w["pattern"] {
		c.add("PATTERN_CHANGED", path+"/pattern", fmt.Sprintf("The %s schema's pattern differs from the %s schema's", c.readerName, c.writerName))
	}
	if ri, ok := r["items"]; ok {
		wi, has := w["items"]
		if !has {
			wi = true
		}
		c.check(ri, wi, path+"/items")
	}
	c.checkProperties(r, w, path)
}

func (c *jsonChecker) checkEnum(r, w map[string]any, path string) {
	re, ok := r["enum"].([]any)
	if !ok {
		return
	}
	we, ok := w["enum"].([]any)
	if !ok {
		c.add("ENUM_ARRAY_NARROWED", path+"/enum", fmt.Sprintf("The %s schema adds an enum the %s schema does not have", c.readerName, c.writerName))
		return
	}
	for _, v := range we {
		found := false
		for _, x := range re {
			if string(mustJSON(x)) == string(mustJSON(v)) {
				found = true
				break
			}
		}
		if !found {
			c.add("ENUM_ARRAY_NARROWED", path+"/enum", fmt.Sprintf("The %s schema's enum lacks %s that the %s schema allows", c.readerName, mustJSON(v), c.writerName))
		}
	}
}

// checkBound checks a lower (lower=true) or upper bound keyword: the reader's may not be tighter.
func (c *jsonChecker) checkBound(r, w map[string]any, path, keyword, errorType string, lower bool) {
	rv, ok := r[keyword].(float64)
	if !ok {
		return
	}
	wv, ok := w[keyword].(float64)
	if ok && ((lower && rv <= wv) || (!lower && rv >= wv)) {
		return
	}
	c.add(errorType, path+"/"+keyword, fmt.Sprintf("The %s schema's %s (%v) is tighter than the %s schema's", c.readerName, keyword, rv, c.writerName))
}

func stringSet(v any) []string {
	var out []string
	if list, ok := v.([]any); ok {
		for _, x := range list {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func (c *jsonChecker) checkProperties(r, w map[string]any, path string) {
	rProps, _ := r["properties"].(map[string]any)
	wProps, _ := w["properties"].(map[string]any)
	rAdditional, rHasAdditional := r["additionalProperties"]
	wAdditional, wHasAdditional := w["additionalProperties"]
	rClosed := rHasAdditional && rAdditional == false
	wOpen := !wHasAdditional || wAdditional != false
	if rClosed && wOpen {
		c.add("ADDITIONAL_PROPERTIES_REMOVED", path+"/additionalProperties",
			fmt.Sprintf("The %s schema closes the content model the %s schema leaves open", c.readerName, c.writerName))
	}
	names := make([]string, 0, len(wProps)+len(rProps))
	for n := range wProps {
		names = append(names, n)
	}
	for n := range rProps {
		if _, ok := wProps[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		rp, inReader := rProps[n]
		wp, inWriter := wProps[n]
		propPath := path + "/properties/" + n
		switch {
		case inReader && inWriter:
			c.check(rp, wp, propPath)
		case inWriter && rClosed:
			c.add("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", propPath,
				fmt.Sprintf("The property '%s' of the %s schema is missing in the %s schema, whose content model is closed", n, c.writerName, c.readerName))
		case inWriter && rHasAdditional:
			c.check(rAdditional, wp, propPath)
		case inReader && wOpen:
			if m, ok := rp.(map[string]any); ok && len(m) == 0 || rp == true {
				continue
			}
			var wa any = true
			if wHasAdditional {
				wa = wAdditional
			}
			sub := &jsonChecker{readerName: c.readerName, writerName: c.writerName}
			sub.check(rp, wa, propPath)
			if len(sub.issues) > 0 {
				c.add("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", propPath,
					fmt.Sprintf("The property '%s' added in the %s schema may hold other data in the %s schema, whose content model is open", n, c.readerName, c.writerName))
			}
		}
	}
	wRequired := stringSet(w["required"])
	for _, n := range stringSet(r["required"]) {
		if !slices.Contains(wRequired, n) {
			c.add("REQUIRED_ATTRIBUTE_ADDED", path+"/required",
				fmt.Sprintf("The property '%s' is required in the %s schema but not in the %s schema", n, c.readerName, c.writerName))
		}
	}
}
