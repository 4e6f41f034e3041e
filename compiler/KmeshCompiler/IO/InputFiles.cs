using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;

namespace KmeshCompiler.IO;

/// <summary>The input policy (docs/files.md): only regular files and standard input are read; a named
/// FIFO, device, socket or directory where a file is expected is an error; special files met while
/// listing a directory are skipped with a warning; sizes are checked before reading and standard input
/// is bounded while it is read. Failures are diagnostics: <c>environment</c> is set for those that are
/// not the input's fault (a path that does not exist or cannot be read), which exit 2.</summary>
public static class InputFiles
{
    /// <summary>Inputs larger than this are refused before parsing, so memory stays bounded.</summary>
    public const long MaxInputBytes = 512L * 1024 * 1024;

    /// <summary>The bytes of a regular file, or null with the reason in <paramref name="bag"/>.</summary>
    public static byte[]? Read(string path, DiagnosticBag bag, ref bool environment, long max = MaxInputBytes)
    {
        var loc = new SourceLocation(path, 0, 0);
        try
        {
            var st = FileStat.Of(path);
            if (st.Kind == FileKind.Missing)
            {
                bag.Add(Codes.PathNotFound, loc, path);
                environment = true;
                return null;
            }
            if (!st.IsRegular)
            {
                bag.Add(Codes.NotRegularFile, loc, path, FileStat.Describe(st.Kind));
                environment = true;
                return null;
            }
            if (st.Size > max)
            {
                bag.Add(Codes.InputTooLarge, loc, path, st.Size, max);
                return null;
            }
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            // What was opened, not what the path named a moment ago.
            var opened = FileStat.Of(handle);
            if (!opened.IsRegular)
            {
                bag.Add(Codes.NotRegularFile, loc, path, FileStat.Describe(opened.Kind));
                environment = true;
                return null;
            }
            using var fs = new FileStream(handle, FileAccess.Read, 1);
            return ReadBounded(fs, path, bag, max);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            bag.Add(Codes.PathNotFound, loc, $"{path} ({e.Message})");
            environment = true;
            return null;
        }
    }

    /// <summary>A stream (standard input) read to its end, refused as soon as it passes
    /// <paramref name="max"/> bytes.</summary>
    public static byte[]? ReadBounded(Stream s, string path, DiagnosticBag bag, long max = MaxInputBytes)
    {
        using var ms = new MemoryStream();
        var buf = new byte[1 << 16];
        int n;
        while ((n = s.Read(buf, 0, buf.Length)) > 0)
        {
            if (ms.Length + n > max)
            {
                bag.Add(Codes.InputTooLarge, new SourceLocation(path, 0, 0), path, $"more than {max}", max);
                return null;
            }
            ms.Write(buf, 0, n);
        }
        return ms.ToArray();
    }

    /// <summary>The regular files under <paramref name="dir"/> (recursively) whose path
    /// <paramref name="include"/> accepts, sorted by ordinal path with '/' separators. A special file
    /// that would have been included is skipped with a warning; a directory that cannot be listed is an
    /// error (environment). Directories reached twice through links are listed once.</summary>
    public static List<string> List(string dir, Func<string, bool> include, DiagnosticBag bag, ref bool environment)
    {
        var files = new List<string>();
        var seen = new HashSet<(ulong, ulong)>();
        var pending = new Stack<string>();
        pending.Push(dir);
        while (pending.Count > 0)
        {
            string d = pending.Pop();
            try
            {
                var st = FileStat.Of(d);
                if (st.Device != 0 || st.Inode != 0)
                    if (!seen.Add((st.Device, st.Inode))) continue;
                var entries = Directory.EnumerateFileSystemEntries(d, "*", new EnumerationOptions
                {
                    RecurseSubdirectories = false,
                    IgnoreInaccessible = false,
                    AttributesToSkip = 0,
                    ReturnSpecialDirectories = false,
                }).ToList();
                foreach (var raw in entries)
                {
                    string e = raw.Replace('\\', '/');
                    FileStat es;
                    try { es = FileStat.Of(e); }
                    catch (IOException) { continue; }
                    switch (es.Kind)
                    {
                        case FileKind.Directory: pending.Push(e); break;
                        case FileKind.Regular: if (include(e)) files.Add(e); break;
                        case FileKind.Missing: break; // a dangling link
                        default:
                            if (include(e)) bag.Add(Codes.SpecialFileSkipped, new SourceLocation(e, 0, 0), e, FileStat.Describe(es.Kind));
                            break;
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                bag.Add(Codes.CannotList, new SourceLocation(d, 0, 0), d, e.Message);
                environment = true;
            }
        }
        files.Sort(StringComparer.Ordinal);
        return files;
    }
}
