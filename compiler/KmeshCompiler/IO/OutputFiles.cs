using System.Security.Cryptography;

namespace KmeshCompiler.IO;

/// <summary>One output of a command: a path ("-" for standard output) and its whole content.</summary>
public sealed record OutputFile(string Path, ReadOnlyMemory<byte> Content);

/// <summary>The output policy of every command that writes files (docs/files.md). An output is a regular
/// file, replaced atomically (a temporary beside it, then a rename), or "-" for standard output. A
/// directory, FIFO, device or socket is refused, and so is a symbolic link to one: <c>/dev/stdout</c> is
/// refused with a hint to use "-". An output that is also an input is refused before anything is read. The
/// outputs of one command are written together: every temporary first, the renames only once all exist,
/// so a failure (a full disk, a read-only folder) leaves every output as it was and no temporary behind.</summary>
public static class OutputFiles
{
    public const string Stdout = "-";

    /// <summary>Why the outputs cannot be written, or null. Checked before the inputs are read:
    /// <paramref name="inputs"/> are the INPUT arguments (files, directories or "-"), and
    /// <paramref name="readFromDirectory"/> says whether a file found in an input directory would be
    /// read (an output there would be an input the next time).</summary>
    public static string? Check(IReadOnlyList<string> outputs, IReadOnlyList<string> inputs, Func<string, bool>? readFromDirectory = null)
    {
        try
        {
            var targets = new List<(string Path, string Full, FileStat Stat)>();
            int stdout = 0;
            foreach (var o in outputs)
            {
                if (o.Length == 0) return "an output path is empty; name a file, or - for standard output";
                if (o == Stdout)
                {
                    if (++stdout > 1) return "standard output (-) is named as more than one output";
                    continue;
                }
                if (Refusal(o) is { } why) return why;
                string full = Target(o);
                var st = FileStat.Of(full);
                foreach (var t in targets)
                    if (t.Full == full || st.SameFileAs(t.Stat))
                        return $"'{o}' is named as two outputs ('{t.Path}' and '{o}'); each output needs its own file";
                targets.Add((o, full, st));
            }
            foreach (var i in inputs)
            {
                if (i == Stdout || i.Length == 0) continue;
                var ist = FileStat.Of(i);
                if (ist.Kind == FileKind.Missing) continue; // reported by the input reader
                string ifull = Target(i);
                foreach (var t in targets)
                {
                    if (t.Full == ifull || t.Stat.SameFileAs(ist))
                        return $"the output '{t.Path}' is also an input; write the output to another file";
                    if (ist.Kind == FileKind.Directory && readFromDirectory is not null
                        && t.Full.StartsWith(ifull.TrimEnd('/') + "/", StringComparison.Ordinal) && readFromDirectory(t.Full))
                        return $"the output '{t.Path}' is inside the input directory '{i}' and would be read as an input; write it elsewhere";
                }
            }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
    }

    /// <summary>Writes every output or none; returns why not, or null. Files are written to temporaries
    /// in their own folders (synced), then renamed over their targets; standard output comes last.</summary>
    public static string? WriteAll(IReadOnlyList<OutputFile> outputs, Stream stdout)
    {
        if (Check([.. outputs.Select(o => o.Path)], []) is { } refused) return refused;
        var temps = new List<(string Temp, string Target, string Path)>();
        try
        {
            foreach (var o in outputs)
            {
                if (o.Path == Stdout) continue;
                string target = Target(o.Path);
                string dir = Path.GetDirectoryName(target) ?? ".";
                string tmp = Path.Combine(dir, $".{Path.GetFileName(target)}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.tmp");
                temps.Add((tmp, target, o.Path));
                try
                {
                    using (var f = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                    {
                        f.Write(o.Content.Span);
                        f.Flush(flushToDisk: true);
                    }
                    // A replaced file keeps its permissions.
                    if (!OperatingSystem.IsWindows() && FileStat.Of(target).IsRegular)
                        File.SetUnixFileMode(tmp, File.GetUnixFileMode(target));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    return $"cannot write '{o.Path}': {e.Message}";
                }
            }
            for (int i = 0; i < temps.Count; i++)
            {
                try
                {
                    File.Move(temps[i].Temp, temps[i].Target, overwrite: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    string done = i == 0 ? "" : $" ({string.Join(", ", temps.Take(i).Select(t => $"'{t.Path}'"))} already replaced)";
                    return $"cannot replace '{temps[i].Path}': {e.Message}{done}";
                }
            }
            temps.Clear();
            foreach (var o in outputs)
                if (o.Path == Stdout) stdout.Write(o.Content.Span);
            stdout.Flush();
            return null;
        }
        finally
        {
            // Every failure path, a full disk included: no temporary stays behind.
            foreach (var t in temps)
                try { File.Delete(t.Temp); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    /// <summary>Why a single path cannot be an output file, or null.</summary>
    private static string? Refusal(string path)
    {
        // /dev/stdout, /dev/fd/N, /proc/self/fd/N: whatever they lead to (a terminal, a pipe, or the
        // file the shell opened, which a rename would unlink from under it) is not an output file.
        string full = Path.GetFullPath(path);
        if (full.StartsWith("/dev/", StringComparison.Ordinal) || full.StartsWith("/proc/", StringComparison.Ordinal))
            return $"refusing to write '{path}': it names a device or a descriptor of this process; use - for standard output";
        string target = Target(path);
        var st = FileStat.Of(target);
        string via = target == Path.GetFullPath(path) ? "" : $" (it leads to '{target}')";
        if (st.Kind == FileKind.Missing)
        {
            string dir = Path.GetDirectoryName(target) ?? ".";
            var ds = FileStat.Of(dir);
            if (ds.Kind == FileKind.Missing) return $"cannot write '{path}': the folder '{dir}' does not exist";
            if (ds.Kind != FileKind.Directory) return $"cannot write '{path}': '{dir}' is not a folder";
            return null;
        }
        if (st.IsRegular) return null;
        string hint = st.Kind == FileKind.Directory ? "; name a file inside it" : "; outputs are regular files, replaced whole, or - for standard output";
        return $"refusing to write '{path}'{via}: it is {FileStat.Describe(st.Kind)}{hint}";
    }

    /// <summary>The file a path finally names: symbolic links are followed so the link stays and its
    /// target is replaced.</summary>
    private static string Target(string path)
    {
        string full = Path.GetFullPath(path);
        try
        {
            if (new FileInfo(full).LinkTarget is null) return full;
            return new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? full;
        }
        catch (IOException)
        {
            return full;
        }
    }
}
