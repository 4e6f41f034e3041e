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
    public static T[] Apply<T>(ReadOnlySpan<T> rows, IEnumerable<T> drop, IEnumerable<T> add, Comparison<T> compare)
    {
        var dropAt = new List<int>();
        foreach (var d in drop)
        {
            int i = Find(rows, d, compare);
            if (i >= 0) dropAt.Add(i);
        }
        dropAt.Sort();
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
            if (ai < adds.Count && nextAdd == stop) { result[w++] = adds[ai++]; continue; }
            if (di < dropAt.Count && nextDrop == stop) { r++; di++; continue; }
        }
        if (w != result.Length) throw new InvalidOperationException($"splice wrote {w} of {result.Length} items: the rows are not sorted or hold a key twice");
        return result;
    }

    /// <summary>Sorted image rows (keys in byte order) with the rows of <paramref name="dropKeys"/> removed and <paramref name="add"/> merged in.</summary>
    public static ImmutableArray<ImageEntry> Rows(ImmutableArray<ImageEntry> rows, IEnumerable<byte[]> dropKeys, IEnumerable<ImageEntry> add) =>
        ImmutableCollectionsMarshal.AsImmutableArray(Apply(rows.AsSpan(), dropKeys.Select(k => new ImageEntry(k, [])), add, ByKey));

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
