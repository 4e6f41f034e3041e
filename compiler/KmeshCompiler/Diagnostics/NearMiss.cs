namespace KmeshCompiler.Diagnostics;

/// <summary>"Did you mean" for field names, namespaces, labels, commands and options.</summary>
public static class NearMiss
{
    /// <summary>A near miss: the same name ignoring case, '_' and '-' (not_principals → notPrincipals),
    /// or within a small edit distance (notPrincipal → notPrincipals).</summary>
    public static string? DidYouMean(string word, IEnumerable<string> candidates)
    {
        static string Norm(string s) => new string(s.Where(c => c != '_' && c != '-').ToArray()).ToLowerInvariant();
        string nw = Norm(word);
        string? best = null;
        int bestDist = int.MaxValue;
        foreach (var c in candidates)
        {
            if (Norm(c) == nw) return c;
            int limit = Math.Max(1, Math.Min(3, c.Length / 3));
            int d = Distance(nw, Norm(c), limit);
            if (d <= limit && d < bestDist) { best = c; bestDist = d; }
        }
        return best;
    }

    /// <summary>Optimal string alignment distance (transpositions count once), cut off at limit + 1.</summary>
    public static int Distance(string a, string b, int limit)
    {
        if (Math.Abs(a.Length - b.Length) > limit) return limit + 1;
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
