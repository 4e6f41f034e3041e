using System.Text;

namespace KmeshCompiler.Tests.Support;

/// <summary>Golden files: expected output checked in under golden/, compared byte for byte.
/// Set KMESH_UPDATE_GOLDEN=1 to rewrite them (./tools/update-golden does that), then review the diff.</summary>
public static class Golden
{
    public static bool Updating => Environment.GetEnvironmentVariable("KMESH_UPDATE_GOLDEN") == "1";

    public static void Assert(string relativePath, string actual)
    {
        actual = actual.Replace("\r\n", "\n");
        string path = Repo.Path("golden", relativePath);
        if (Updating)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            if (!File.Exists(path) || File.ReadAllText(path) != actual) File.WriteAllText(path, actual);
            return;
        }
        if (!File.Exists(path))
            throw new Xunit.Sdk.XunitException($"golden file golden/{relativePath} is missing; run ./tools/update-golden and review it");
        string expected = File.ReadAllText(path).Replace("\r\n", "\n");
        if (expected != actual)
            throw new Xunit.Sdk.XunitException($"golden/{relativePath} differs (run ./tools/update-golden to accept):\n{UnifiedDiff(expected, actual)}");
    }

    /// <summary>A small line diff (longest common subsequence), enough to read a golden failure.</summary>
    public static string UnifiedDiff(string expected, string actual, int context = 3)
    {
        var a = expected.Split('\n');
        var b = actual.Split('\n');
        if ((long)a.Length * b.Length > 25_000_000) return $"--- expected ({a.Length} lines)\n+++ actual ({b.Length} lines)\n(too large to diff)";
        var lcs = new int[a.Length + 1, b.Length + 1];
        for (int i = a.Length - 1; i >= 0; i--)
            for (int j = b.Length - 1; j >= 0; j--)
                lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
        var ops = new List<(char Op, string Line, int A, int B)>();
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y]) { ops.Add((' ', a[x], x, y)); x++; y++; }
            else if (y < b.Length && (x == a.Length || lcs[x, y + 1] >= lcs[x + 1, y])) { ops.Add(('+', b[y], x, y)); y++; }
            else { ops.Add(('-', a[x], x, y)); x++; }
        }
        var sb = new StringBuilder("--- expected\n+++ actual\n");
        int last = -1;
        for (int k = 0; k < ops.Count; k++)
        {
            if (ops[k].Op == ' ') continue;
            int from = Math.Max(Math.Max(0, k - context), last + 1);
            if (from > last + 1) sb.Append($"@@ line {ops[from].A + 1} @@\n");
            int to = k;
            while (to + 1 < ops.Count && (ops[to + 1].Op != ' ' || ops.Skip(to + 1).Take(context * 2).Any(o => o.Op != ' ') && to + 1 - k < 10000)) to++;
            to = Math.Min(ops.Count - 1, to + context);
            for (int m = from; m <= to; m++) sb.Append(ops[m].Op).Append(ops[m].Line).Append('\n');
            last = to;
            k = to;
        }
        return sb.ToString();
    }
}
