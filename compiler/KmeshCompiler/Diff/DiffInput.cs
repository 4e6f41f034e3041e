using System.Diagnostics;
using System.Formats.Tar;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Diff;

/// <summary>One side of a diff: a world read from inputs, or a node image.</summary>
public sealed record DiffSide(string Spec, World? World, ImageFile? Image, DiagnosticBag Diagnostics)
{
    public bool HasErrors => Diagnostics.HasErrors;
}

/// <summary>Reads one OLD or NEW argument of <c>kmeshc diff</c>: a file or directory of inputs, "-"
/// for stdin, a node image (recognised by its magic number), or <c>REV:PATH</c> — PATH as it is at
/// git revision REV, read through <c>git archive</c> from the current directory's repository (so a
/// CI job diffs against <c>origin/main:deploy/</c> without a second checkout). Files read from git
/// are named <c>REV:path</c> in diagnostics and policy locations.</summary>
public static class DiffInput
{
    /// <summary>Returns null with <paramref name="environmentError"/> set when the argument cannot
    /// be read at all (no such path, git or the revision missing): a usage/environment error.</summary>
    public static DiffSide? Load(string spec, FrontendSettings settings, out string? environmentError, Func<Stream>? stdin = null)
    {
        environmentError = null;
        var bag = new DiagnosticBag();
        if (spec != "-" && File.Exists(spec) && IsImage(spec))
        {
            byte[] data;
            try
            {
                var info = new FileInfo(spec);
                if (info.Length > ImageReader.MaxImageBytes)
                {
                    bag.Add(Codes.InputTooLarge, new SourceLocation(spec, 0, 0), spec, info.Length, ImageReader.MaxImageBytes);
                    return new DiffSide(spec, null, null, bag);
                }
                data = File.ReadAllBytes(spec);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                environmentError = $"cannot read '{spec}': {e.Message}";
                return null;
            }
            return new DiffSide(spec, null, ImageReader.Read(spec, data, bag), bag);
        }
        if (spec == "-" || File.Exists(spec) || Directory.Exists(spec) || !TrySplitRevision(spec, out var rev, out var path))
        {
            var res = InputLoader.Load([spec], settings, stdin);
            if (res.EnvironmentError)
            {
                environmentError = string.Join("; ", res.Diagnostics.Sorted().Where(d => d.Severity == Severity.Error).Select(d => d.ToString()));
                return null;
            }
            return new DiffSide(spec, res.World, null, res.Diagnostics);
        }
        var sources = ReadGit(rev, path, out environmentError);
        if (sources is null) return null;
        if (sources.Count == 0)
        {
            environmentError = $"'{path}' at revision '{rev}' holds no input files ({string.Join(", ", InputKinds.Extensions)})";
            return null;
        }
        return new DiffSide(spec, InputLoader.Build(sources, settings, bag), null, bag);
    }

    /// <summary>"REV:PATH" where REV is not empty and the whole is not an existing path.</summary>
    public static bool TrySplitRevision(string spec, out string rev, out string path)
    {
        int colon = spec.IndexOf(':');
        rev = colon > 0 ? spec[..colon] : "";
        path = colon > 0 ? spec[(colon + 1)..] : "";
        if (path.Length == 0) path = ".";
        return colon > 0;
    }

    private static bool IsImage(string path)
    {
        try
        {
            using var f = File.OpenRead(path);
            Span<byte> head = stackalloc byte[8];
            return f.ReadAtLeast(head, 8, throwOnEndOfStream: false) == 8 && head.SequenceEqual(ImageFile.Magic);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static List<SourceText>? ReadGit(string rev, string path, out string? error)
    {
        error = null;
        var psi = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "archive", "--format=tar", rev, "--", path }) psi.ArgumentList.Add(a);
        Process p;
        try { p = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception e)
        {
            error = $"cannot run git to read '{rev}:{path}': {e.Message}";
            return null;
        }
        using (p)
        {
            var stderr = p.StandardError.ReadToEndAsync();
            var tar = new MemoryStream();
            p.StandardOutput.BaseStream.CopyTo(tar);
            p.WaitForExit();
            if (p.ExitCode != 0)
            {
                error = $"cannot read '{rev}:{path}' from git: {stderr.Result.Trim()}";
                return null;
            }
            tar.Position = 0;
            var result = new List<SourceText>();
            using var reader = new TarReader(tar);
            while (reader.GetNextEntry() is { } entry)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null) continue;
                string name = entry.Name;
                if (!InputKinds.Extensions.Contains(Path.GetExtension(name).ToLowerInvariant()) ||
                    name.EndsWith(".test.kpl", StringComparison.OrdinalIgnoreCase)) continue;
                if (entry.Length > InputLoader.MaxInputBytes)
                {
                    error = $"'{rev}:{name}' is {entry.Length} bytes; inputs are limited to {InputLoader.MaxInputBytes} bytes";
                    return null;
                }
                using var ms = new MemoryStream();
                entry.DataStream.CopyTo(ms);
                result.Add(new SourceText($"{rev}:{name}", ms.ToArray()));
            }
            return result.OrderBy(s => s.Path, StringComparer.Ordinal).ToList();
        }
    }
}
