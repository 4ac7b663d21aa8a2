#include "cli/application.h"

int main(int argc, char** argv) {
  recsys::Application app;
  return app.Run(argc, argv);
}
