using System.Collections.Immutable;
using System.Runtime.InteropServices;

namespace KmeshCompiler.Lowering;

/// <summary>Replaces a few items of a large sorted array by block copies: the positions to drop are
/// found by binary search, the items to add are merged in at theirs. What an incremental compile does
/// to a table of a million rows when an update changes ten of them.</summary>
internal static class SortedSplice
{
    /// <summary><paramref name="rows"/> (sorted by <paramref name="compare"/>) without the items equal
    /// to one of <paramref name="drop"/>, with <paramref name="add"/> merged in (both in any order).</summary>
    public static T[] Apply<T>(ReadOnlySpan<T> rows, IEnumerable<T> drop, IEnumerable<T> add, Comparison<T> compare) =>
        Apply(rows, drop, add, compare, out _);

    /// <summary>As <see cref="Apply{T}(ReadOnlySpan{T}, IEnumerable{T}, IEnumerable{T}, Comparison{T})"/>; <paramref name="dropped"/> are the items removed.</summary>
    public static T[] Apply<T>(ReadOnlySpan<T> rows, IEnumerable<T> drop, IEnumerable<T> add, Comparison<T> compare, out List<T> dropped)
    {
        var dropAt = new List<int>();
        foreach (var d in drop)
        {
            int i = Find(rows, d, compare);
            if (i >= 0) dropAt.Add(i);
        }
        dropAt.Sort();
        dropped = [];
        for (int i = 0; i < dropAt.Count; i++) if (i == 0 || dropAt[i] != dropAt[i - 1]) dropped.Add(rows[dropAt[i]]);
        var adds = add.ToList();
        adds.Sort(compare);
        var result = new T[rows.Length - dropAt.Distinct().Count() + adds.Count];
        int w = 0, r = 0, di = 0, ai = 0;
        while (r < rows.Length || ai < adds.Count)
        {
            while (di < dropAt.Count && dropAt[di] < r) di++;
            int nextDrop = di < dropAt.Count ? dropAt[di] : rows.Length;
            int nextAdd = ai < adds.Count ? LowerBound(rows, r, adds[ai], compare) : rows.Length;
            int stop = Math.Min(nextDrop, nextAdd);
            rows[r..stop].CopyTo(result.AsSpan(w));
            w += stop - r;
            r = stop;
            if (ai < adds.Count && nextAdd == stop)
            {
                // An added item must fall strictly between its neighbours (no key twice).
                if (w > 0 && compare(result[w - 1], adds[ai]) >= 0) throw new InvalidOperationException("splice: an added item equals or precedes the item before it");
                if (r < rows.Length && (di >= dropAt.Count || dropAt[di] != r) && compare(adds[ai], rows[r]) >= 0) throw new InvalidOperationException("splice: an added item equals an item kept");
                result[w++] = adds[ai++];
                continue;
            }
            if (di < dropAt.Count && nextDrop == stop) { r++; di++; continue; }
        }
        if (w != result.Length) throw new InvalidOperationException($"splice wrote {w} of {result.Length} items: the rows are not sorted or hold a key twice");
        return result;
    }

    /// <summary>The section of <paramref name="parent"/>'s table with the rows of <paramref name="dropKeys"/>
    /// removed and <paramref name="add"/> merged in (keys in byte order); its row fingerprint follows
    /// from the parent's (<see cref="RowSums.Derive"/>).</summary>
    public static ImageSection Section(ImageSection parent, IEnumerable<byte[]> dropKeys, IEnumerable<ImageEntry> add)
    {
        var added = add.ToList();
        foreach (var e in added)
            if (e.Key.Length != parent.KeySize || e.Value.Length != parent.ValueSize)
                throw new InvalidOperationException($"splice: a row of {e.Key.Length}/{e.Value.Length} bytes in table {parent.Name} of {parent.KeySize}/{parent.ValueSize}");
        var rows = Apply(parent.Entries.AsSpan(), dropKeys.Select(k => new ImageEntry(k, [])), added, ByKey, out var dropped);
        // Sizes and order checked for the added rows: the rest is the parent's, in its order.
        return RowSums.Derive(parent, parent with { Entries = ImmutableCollectionsMarshal.AsImmutableArray(rows) }, dropped, added);
    }

    private static readonly Comparison<ImageEntry> ByKey = (a, b) => a.Key.AsSpan().SequenceCompareTo(b.Key);

    /// <summary>The position of an item equal to <paramref name="item"/>, or -1.</summary>
    public static int Find<T>(ReadOnlySpan<T> rows, T item, Comparison<T> compare)
    {
        int i = LowerBound(rows, 0, item, compare);
        return i < rows.Length && compare(rows[i], item) == 0 ? i : -1;
    }

    /// <summary>The first position at or after <paramref name="from"/> whose item is not below <paramref name="item"/>.</summary>
    private static int LowerBound<T>(ReadOnlySpan<T> rows, int from, T item, Comparison<T> compare)
    {
        int lo = from, hi = rows.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (compare(rows[mid], item) < 0) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}
