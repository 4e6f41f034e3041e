using KmeshCompiler.Lowering;

namespace KmeshCompiler.Image;

/// <summary>The structural checks an image passes before anything decodes its rows: a file whose
/// content hash was recomputed after an edit is as untrusted as any other input. Array indices run
/// 0, 1, 2, ... below the map's capacity, every hash and LPM map holds at most its
/// capacity in ascending key order (so no key twice), every LPM prefix length fits its family, and
/// every (first, count) range of an eval, policy, rule or clause lies inside km_lists. After these,
/// decoding allocates at most the declared capacities and every list walk stays inside km_lists.</summary>
public static class ImageChecks
{
    /// <summary>Why the image is malformed, or null.</summary>
    public static string? Problem(ImageFile image)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in image.Sections)
        {
            if (!seen.Add(s.Name)) return $"table '{s.Name}' appears twice";
            if ((uint)s.Entries.Length > s.MaxEntries) return $"table '{s.Name}' holds {s.Entries.Length} entries, over its capacity of {s.MaxEntries}";
            if (s.Type == BpfMapType.Array)
            {
                // Dense from 0, as the lowering writes them: the decoded array is as long as the
                // entries the file holds, not as the largest index it claims.
                for (int i = 0; i < s.Entries.Length; i++)
                {
                    uint index = Rows.U32(s.Entries[i].Key);
                    if (index >= s.MaxEntries) return $"table '{s.Name}' has index {index}, past its capacity of {s.MaxEntries}";
                    if (index != (uint)i) return $"table '{s.Name}' lists index {index} at position {i}: array indices run 0, 1, 2, ... without gaps";
                }
            }
            else
            {
                for (int i = 1; i < s.Entries.Length; i++)
                    if (s.Entries[i - 1].Key.AsSpan().SequenceCompareTo(s.Entries[i].Key) >= 0)
                        return $"table '{s.Name}' entry {i} is not in ascending key order (or repeats a key)";
            }
            if (s.Name == Layout.MapAddrSets)
                foreach (var e in s.Entries)
                {
                    var k = Rows.Read<KmeshAddrSetKey>(e.Key);
                    uint bits = (k.SetFam & 1) != 0 ? 128u : 32u;
                    if (k.Prefixlen < 32 || k.Prefixlen - 32 > bits) return $"table '{s.Name}' has a prefix length of {(long)k.Prefixlen - 32} for an address of {bits} bits";
                }
        }

        var t = new ImageTables(image);
        long lists = t.Lists.Length;
        string? Range(string what, long row, uint first, uint count) =>
            count != 0 && (long)first + count > lists ? $"{what} {row} names list slots {first}..{(long)first + count - 1}, past the end of {Layout.MapLists} ({lists} slots)" : null;
        for (long i = 0; i < t.Evals.Length; i++)
        {
            var e = t.Evals[i];
            if ((Range("eval", i, e.MatchFirst, e.MatchCount) ?? Range("eval", i, e.ClauseFirst, e.ClauseCount)
                ?? Range("eval", i, e.RuleFirst, e.RuleCount) ?? Range("eval", i, e.PolicyFirst, e.PolicyCount)) is { } why) return why;
            if (e.Shared != 0)
            {
                if (e.Shared > t.Evals.Length) return $"eval {i} names shared block {e.Shared - 1}, past the end of {Layout.MapEvals}";
                var b = t.Evals[e.Shared - 1];
                if ((b.Flags & Layout.EvalBlock) == 0 || b.Shared != 0) return $"eval {i} names eval {e.Shared - 1} as its shared block, which is not a block";
            }
        }
        foreach (var ((sid, prio, index), bid) in t.Endpoints)
            if (!t.Backends.ContainsKey(bid)) return $"table '{Layout.MapEndpoints}': service {sid} priority {prio} slot {index} names backend {bid}, which '{Layout.MapBackends}' does not have";
        for (long i = 0; i < t.Policies.Length; i++)
            if (Range("policy", i, t.Policies[i].RulesFirst, t.Policies[i].RulesCount) is { } why) return why;
        for (long i = 0; i < t.Rules.Length; i++)
            if (Range("rule", i, t.Rules[i].First, t.Rules[i].Count) is { } why) return why;
        for (long i = 0; i < t.Clauses.Length; i++)
            if (Range("clause", i, t.Clauses[i].First, t.Clauses[i].Count) is { } why) return why;
        return null;
    }
}
