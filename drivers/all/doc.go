// Package all links every edgegw driver into the binary. Each import carries
// a build tag like `!custom || drivers.<kind>`, so a build with the tag
// `custom` links only the drivers named by their own tags.
package all
