using System.CommandLine;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.IO;
using KmeshCompiler.Image;

namespace Kmeshc.Commands;

/// <summary><c>kmeshc inspect IMAGE</c>: the text rendering of an image, after checking its header,
/// content hash and table layout.</summary>
public static class InspectCommand
{
    /// <summary>Reads and checks an image file, printing its diagnostics: the image, or null with the
    /// exit code (2 when the file cannot be read, 1 when it is not a valid image).</summary>
    public static int Read(Cli.Io io, string path, out ImageFile? file) => Read(io, path, out file, out _);

    /// <summary>As above, with the file's content hash (from its checked header).</summary>
    public static int Read(Cli.Io io, string path, out ImageFile? file, out string contentHash)
    {
        file = null;
        contentHash = "";
        var bag = new DiagnosticBag();
        bool environment = false;
        var data = InputFiles.Read(path, bag, ref environment, ImageReader.MaxImageBytes);
        if (data is null)
        {
            foreach (var d in bag.Sorted()) io.Err.WriteLine(d.ToString());
            return environment ? Cli.Usage : Cli.Failed;
        }
        file = ImageReader.Read(path, data, bag);
        foreach (var d in bag.Sorted()) io.Err.WriteLine(d.ToString());
        if (file is null) return Cli.Failed;
        contentHash = ImageFile.ContentHashOf(data);
        return Cli.Ok;
    }

    public static Command Create()
    {
        var image = new Argument<string>("IMAGE") { Description = "An image written by kmeshc compile." };
        var cmd = new Command("inspect", "Print the text rendering of a map image.") { image };
        cmd.SetAction(parse =>
        {
            var io = Cli.Current(parse);
            int rc = Read(io, parse.GetValue(image)!, out var file);
            if (file is null) return rc;
            io.Out.Write(ImageText.Render(file));
            return Cli.Ok;
        });
        return cmd;
    }
}
