using System.Collections.Immutable;

namespace KmeshCompiler.Image;

/// <summary>A row of a table as <see cref="ImageText"/> renders it: its key (what identifies the row:
/// the address of a workload, "eval 3", "policy 2 ns/name"...) and its full text, continuation lines
/// included.</summary>
public sealed record ImageRow(string Key, string Text);

/// <summary>A row present on both sides whose text differs.</summary>
public sealed record ChangedRow(string Key, string Before, string After);

/// <summary>The row changes of one table, each list in key order.</summary>
public sealed record TableDiff(string Table, ImmutableArray<ImageRow> Added, ImmutableArray<ImageRow> Removed, ImmutableArray<ChangedRow> Changed)
{
    public bool IsEmpty => Added.IsEmpty && Removed.IsEmpty && Changed.IsEmpty;
}

/// <summary>Row-level comparison of two node images, on their text renderings, so every row is shown
/// with names resolved (workloads, policies, services) exactly as <c>kmeshc inspect</c> shows it.
/// Use: <c>ImageDiff.Compare(before, after)</c> with two decoded images (<see cref="ImageFile"/>,
/// <see cref="ImageTables"/>) or two renderings; the result lists, per table in image order, the
/// rows added, removed and changed (same key, different text); tables without change are left out,
/// and an empty list means the images hold the same rows. Header lines (node, format, layout hash)
/// are compared as the pseudo-table "image". <c>kmeshc diff</c> prints it per node, and a loader's
/// dry run can print what a load would change with the same function.</summary>
public static class ImageDiff
{
    public static ImmutableArray<TableDiff> Compare(ImageFile before, ImageFile after) =>
        Compare(ImageText.Render(before), ImageText.Render(after));

    public static ImmutableArray<TableDiff> Compare(ImageTables before, ImageTables after) =>
        Compare(ImageText.Render(before), ImageText.Render(after));

    public static ImmutableArray<TableDiff> Compare(string beforeText, string afterText)
    {
        var b = Parse(beforeText);
        var a = Parse(afterText);
        var tables = b.Select(t => t.Table).Concat(a.Select(t => t.Table)).Distinct(StringComparer.Ordinal).ToList();
        var result = ImmutableArray.CreateBuilder<TableDiff>();
        foreach (var table in tables)
        {
            var rb = b.FirstOrDefault(t => t.Table == table).Rows ?? [];
            var ra = a.FirstOrDefault(t => t.Table == table).Rows ?? [];
            var db = ByKey(rb);
            var da = ByKey(ra);
            var added = ra.Where(r => !db.ContainsKey(r.Key)).ToImmutableArray();
            var removed = rb.Where(r => !da.ContainsKey(r.Key)).ToImmutableArray();
            var changed = ra.Where(r => db.TryGetValue(r.Key, out var old) && old.Text != r.Text)
                .Select(r => new ChangedRow(r.Key, db[r.Key].Text, r.Text)).ToImmutableArray();
            var d = new TableDiff(table, added, removed, changed);
            if (!d.IsEmpty) result.Add(d);
        }
        return result.ToImmutable();
    }

    private static Dictionary<string, ImageRow> ByKey(List<ImageRow> rows)
    {
        var d = new Dictionary<string, ImageRow>(StringComparer.Ordinal);
        foreach (var r in rows) d.TryAdd(r.Key, r);
        return d;
    }

    /// <summary>Splits a rendering into tables ("name (n entries)" headers) and rows (lines indented
    /// by two spaces; deeper lines continue the row above). A row's key is its text up to the first
    /// ": " or " -> ", without a leading "kind id" when a name follows it.</summary>
    private static List<(string Table, List<ImageRow> Rows)> Parse(string text)
    {
        var tables = new List<(string Table, List<ImageRow> Rows)> { ("image", []) };
        var keys = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var raw in text.Replace("\r\n", "\n").Split('\n'))
        {
            if (raw.Length == 0) continue;
            var rows = tables[^1].Rows;
            if (raw.StartsWith("    ", StringComparison.Ordinal) && rows.Count > 0)
            {
                rows[^1] = rows[^1] with { Text = rows[^1].Text + "\n" + raw };
                continue;
            }
            if (!raw.StartsWith(' ') && raw.EndsWith(')') && raw.Contains(" (", StringComparison.Ordinal) && tables.Count > 0 &&
                (raw.EndsWith(" entries)", StringComparison.Ordinal) || raw.EndsWith(" entry)", StringComparison.Ordinal)))
            {
                tables.Add((raw[..raw.LastIndexOf(" (", StringComparison.Ordinal)], []));
                keys.Clear();
                continue;
            }
            string line = raw.Trim();
            int colon = line.IndexOf(": ", StringComparison.Ordinal);
            int arrow = line.IndexOf(" -> ", StringComparison.Ordinal);
            int cut = colon < 0 ? arrow : arrow < 0 ? colon : Math.Min(colon, arrow);
            string key = cut < 0 ? line : line[..cut];
            if (tables.Count == 1) key = line.Split(' ')[0];
            // "policy 3 ns/name": ids are renumbered by any change, so a named row is keyed by its name.
            else if (key.Split(' ') is [_, var id, .. var rest] && rest.Length > 0 && id.All(char.IsAsciiDigit)) key = string.Join(' ', rest);
            // Keys are unique within a table; a repeated key gets a suffix.
            int n = keys.TryGetValue(key, out var seen) ? seen + 1 : 1;
            keys[key] = n;
            if (n > 1) key = $"{key} #{n}";
            rows.Add(new ImageRow(key, raw));
        }
        return tables;
    }
}
